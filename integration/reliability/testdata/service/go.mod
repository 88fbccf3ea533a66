module gorigin.test/service

go 1.20

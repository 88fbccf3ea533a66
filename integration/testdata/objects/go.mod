module gorigin.test/objects

go 1.20

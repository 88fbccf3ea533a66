module gorigin.test/panicker

go 1.20

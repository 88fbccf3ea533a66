module gorigin.test/leakmany

go 1.20

module gorigin.test/leakfixture

go 1.20

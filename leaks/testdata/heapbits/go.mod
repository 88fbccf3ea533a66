module gorigin.test/heapbits

go 1.20

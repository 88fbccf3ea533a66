module gstructtarget

go 1.20

module bigtarget

go 1.20

module dapping

go 1.20

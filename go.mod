module github.com/gorigin-dev/gorigin

go 1.26

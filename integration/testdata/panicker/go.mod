module panicker

go 1.20

module leaky

go 1.20

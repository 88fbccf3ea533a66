module churn

go 1.20

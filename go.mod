module github.com/debt-exporter/debt_exporter

go 1.26.8

require github.com/stretchr/testify v1.12.1

require (
	github.com/google/go-jsonnet v0.22.0 // indirect
	github.com/prometheus/common v0.73.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/crypto v0.45.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	sigs.k8s.io/yaml v1.4.0 // indirect
)

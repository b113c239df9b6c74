module github.com/lifeboat-ha/lifeboat

go 1.26.8

require (
	github.com/spf13/cobra v1.10.2
	github.com/stmcginnis/gofish v0.26.0
	go.yaml.in/yaml/v3 v3.0.6
	libvirt.org/go/libvirt v1.11010.0
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
)

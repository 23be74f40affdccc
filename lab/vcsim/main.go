// Command vcsim serves govmomi's vSphere API simulator for failback's tests and lab.
//
// Debian ships govmomi's simulator library but not its vcsim command, so this is our own small one, modelled on
// upstream's vcsim/main.go. It listens on loopback with a certificate generated for this run, writes that
// certificate to -cert-file so clients verify TLS against it, prints the SDK URL on one line and serves until
// SIGTERM or SIGINT. The password comes from $VCSIM_PASSWORD, never from argv.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	model := simulator.VPX()
	esx := flag.Bool("esx", false, "simulate a standalone ESXi host instead of vCenter")
	flag.IntVar(&model.Datacenter, "dc", model.Datacenter, "datacenters")
	flag.IntVar(&model.Cluster, "cluster", model.Cluster, "clusters per datacenter")
	flag.IntVar(&model.ClusterHost, "host", model.ClusterHost, "hosts per cluster")
	flag.IntVar(&model.Host, "standalone-host", model.Host, "standalone hosts per datacenter")
	flag.IntVar(&model.Machine, "vm", model.Machine, "virtual machines per resource pool")
	flag.IntVar(&model.Pool, "pool", model.Pool, "resource pools per cluster")
	flag.IntVar(&model.Datastore, "ds", model.Datastore, "local datastores, mounted on every host")
	flag.IntVar(&model.Folder, "folder", model.Folder, "datacenters placed inside folders")
	flag.IntVar(&model.App, "app", model.App, "virtual apps per cluster")
	flag.IntVar(&model.Pod, "pod", model.Pod, "storage pods per datacenter")
	flag.IntVar(&model.Portgroup, "pg", model.Portgroup, "distributed port groups per datacenter")
	flag.IntVar(&model.PortgroupNSX, "pg-nsx", model.PortgroupNSX, "NSX-backed distributed port groups per datacenter")
	flag.IntVar(&model.OpaqueNetwork, "nsx", model.OpaqueNetwork, "NSX opaque networks per datacenter")
	flag.BoolVar(&model.Autostart, "autostart", model.Autostart, "power on the model's virtual machines")
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	certFile := flag.String("cert-file", "", "write the server's PEM certificate here (required)")
	username := flag.String("username", "", "accept only this user (password from $VCSIM_PASSWORD); default: any")
	flag.StringVar(&simulator.EvalLicense.LicenseKey, "license-key", simulator.EvalLicense.LicenseKey, "licence key")
	flag.StringVar(&simulator.EvalLicense.EditionKey, "license-edition", simulator.EvalLicense.EditionKey,
		"licence edition key, e.g. esxBasic for a free ESXi")
	flag.StringVar(&simulator.EvalLicense.Name, "license-name", simulator.EvalLicense.Name, "licence name")
	flag.Parse()

	if *esx {
		esxModel := simulator.ESX()
		esxModel.Datastore, esxModel.Machine, esxModel.Autostart = model.Datastore, model.Machine, model.Autostart
		model = esxModel
	}
	if *certFile == "" {
		fail(fmt.Errorf("-cert-file is required: clients verify TLS against it"))
	}
	cert, err := selfSigned(*listen)
	if err != nil {
		fail(err)
	}
	if err := writeCert(*certFile, cert.Certificate[0]); err != nil {
		fail(err)
	}
	if err := model.Create(); err != nil {
		fail(err)
	}
	model.Service.Listen = &url.URL{Host: *listen}
	if *username != "" {
		model.Service.Listen.User = url.UserPassword(*username, os.Getenv("VCSIM_PASSWORD"))
	}
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	// Registered before the URL is printed: whoever reads the URL may signal us at once.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)

	server := model.Service.NewServer()
	sdk := *server.URL
	sdk.User = nil
	fmt.Println(sdk.String())

	<-signals
	server.Close()
	model.Remove()
}

// selfSigned makes a P-256 certificate for the listen address that is its own CA, valid for a week.
func selfSigned(listen string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	template := x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "failback vcsim", Organization: []string{"failback lab"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
			template.IPAddresses = append(template.IPAddresses, ip)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, &template, &template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// writeCert writes the PEM next to its final name and renames it, so a reader never sees half a file.
func writeCert(name string, der []byte) error {
	tmp := name + ".tmp"
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "vcsim:", err)
	os.Exit(2)
}

package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestExporterTLSAndBasicAuth: with exporter-toolkit's web configuration file (a TLS
// certificate and a bcrypt-hashed basic auth user) the exporter serves /metrics only over
// TLS and only to that user.
func TestExporterTLSAndBasicAuth(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gorigin test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	crt := write("tls.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyFile := write("tls.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := write("web.yml", fmt.Appendf(nil, "tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prometheus: %s\n", crt, keyFile, hash))

	fx := startFixture(t, fixtureBinary(t, hostVariant(t)))
	addr := startExporter(t, "--interval", "500ms", "--web.config.file", web, strconv.Itoa(fx.Pid))

	pool := x509.NewCertPool()
	pool.AddCert(must(x509.ParseCertificate(der)))
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(scheme, user, pass string) (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, scheme+"://"+addr+"/metrics", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), nil
	}
	if code, _, err := get("https", "", ""); err != nil || code != http.StatusUnauthorized {
		t.Errorf("no credentials: status %d, %v; want 401", code, err)
	}
	if code, _, err := get("https", "prometheus", "wrong"); err != nil || code != http.StatusUnauthorized {
		t.Errorf("a wrong password: status %d, %v; want 401", code, err)
	}
	if code, _, err := get("http", "prometheus", "s3cret"); err == nil && code == http.StatusOK {
		t.Errorf("plain HTTP was served metrics: want TLS only")
	}
	want := fmt.Sprintf(`pid="%d"`, fx.Pid)
	waitFor(t, "the metrics over TLS with the right password", func() error {
		code, body, err := get("https", "prometheus", "s3cret")
		switch {
		case err != nil:
			return err
		case code != http.StatusOK:
			return fmt.Errorf("status %d", code)
		case !strings.Contains(body, "gorigin_goroutines{") || !strings.Contains(body, want):
			return fmt.Errorf("no gorigin_goroutines of pid %d yet", fx.Pid)
		}
		return nil
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

package delve

import (
	dlvgoversion "github.com/go-delve/delve/pkg/goversion"
	dlvversion "github.com/go-delve/delve/pkg/version"

	"github.com/gorigin-dev/gorigin/internal/goversion"
)

// Version is the version of the Delve linked in, "v1.27.2".
func Version() string {
	v := dlvversion.DelveVersion
	return "v" + v.Major + "." + v.Minor + "." + v.Patch
}

// SupportedGo is the range of Go releases the Delve linked in supports, as its
// pkg/goversion says: dlv core and dlv exec refuse others unless started with
// --check-go-version=false; dlv attach does not check.
func SupportedGo() (lo, hi goversion.Version) {
	return goversion.Version(dlvgoversion.MinSupportedVersionOfGoMinor), goversion.Version(dlvgoversion.MaxSupportedVersionOfGoMinor)
}

// Supports says whether the Delve linked in supports a target built by goVersion
// ("go1.26.8"); an unknown release counts as supported.
func Supports(goVersion string) bool {
	v := goversion.Parse(goVersion)
	lo, hi := SupportedGo()
	return !v.Known() || v >= lo && v <= hi
}

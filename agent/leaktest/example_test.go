package leaktest_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/gorigin-dev/gorigin/agent/leaktest"
)

// reporter stands in for a *testing.T: it prints the first line of what Check reports.
type reporter struct{}

func (reporter) Helper() {}
func (reporter) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	first, _, _ := strings.Cut(msg, "\n")
	fmt.Println(first)
}

// In a test, `defer leaktest.Check(t)` fails the test if goroutines it started are still
// alive when it ends. Each function below runs on a goroutine of its own, as a test does.
func ExampleCheck() {
	run := func(test func()) {
		done := make(chan struct{})
		go func() { defer close(done); test() }()
		<-done
	}
	run(func() { // a goroutine that ends within the grace period: no report
		finished := make(chan struct{})
		go func() { <-finished }()
		close(finished)
		leaktest.Check(reporter{}, leaktest.Grace(10*time.Second)) // returns once it has ended
	})
	run(func() { // a goroutine blocked for good on a channel nobody closes
		never := make(chan struct{})
		go func() { <-never }()
		leaktest.Check(reporter{}, leaktest.Grace(50*time.Millisecond))
	})
	// Output:
	// leaktest: 1 goroutine(s) started by this test are still running:
}

package conformance_test

import (
	"context"
	"fmt"
	"os"

	"github.com/pushlua/pushlua/conformance"
)

// Run the bundled dlog suite's load check and one of its cases.
func ExampleRun() {
	rep, err := conformance.Run(context.Background(), conformance.Options{
		Bundled:   true,
		RunRegexp: `^dlog/(load|handlers|rollback)$`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = rep.WriteText(os.Stdout)
	fmt.Println(rep.OK())
	// Output:
	// === dlog (bundled suite dlog)
	// ok    dlog/load
	// ok    dlog/handlers
	// ok    dlog/rollback
	// 3 passed, 0 failed
	// true
}

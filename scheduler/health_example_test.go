package scheduler_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

// The probes go on the service's own mux, next to its other handlers.
// Before Run the worker is alive but not ready.
func ExampleScheduler_HealthHandler() {
	kin, _ := kinesistest.New(kinesistest.Config{})
	_ = kin.CreateStream("orders", 1)
	sched, err := scheduler.New(scheduler.Config{
		ApplicationName: "orders-app",
		StreamName:      "orders",
		KinesisClient:   kin,
		Stores:          leases.NewMemoryStores(),
	}, consumer.ProcessorFactoryFunc(func(string) consumer.Processor { return nil }))
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	h := sched.HealthHandler()
	mux.Handle("/readyz", h)
	mux.Handle("/livez", h)
	// go sched.Run(ctx); http.ListenAndServe(addr, mux)

	for _, path := range []string{"/livez", "/readyz", "/readyz?verbose"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body, _ := io.ReadAll(rec.Body)
		fmt.Printf("%s %d\n%s", path, rec.Code, body)
	}
	// Output:
	// /livez 200
	// ok
	// /readyz 503
	// shardwise: Run has not been called
	// /readyz?verbose 503
	// [-]run failed: shardwise: Run has not been called
}

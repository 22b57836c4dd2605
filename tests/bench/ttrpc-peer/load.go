// The --load mode: a Health.Check load client built on containerd's Go ttrpc client, the one the
// Kata Go runtime talks to the agent with.  It is the runtime-like counterpart of rpc-load
// (tests/bench/rpc_load.c) and prints the same key=value line, so that tests/bench/bench.sh
// reads both alike.
//
// Shape of the load: --connections connections (default 4), each a ttrpc.Client, with --depth
// goroutines per connection (default 1: the runtime issues one call at a time per caller), each
// calling Check in a loop through ttrpc.Client.Call with a deadline on its context, as the
// runtime's calls carry one (it goes on the wire as the request's timeout_nano).  After
// --warmup-ms the measured window of --duration-ms opens; a call that returns inside the window
// is counted, its latency (from before Call to its return) recorded.  With --pid, the server's
// CPU time over the window is read from its process CPU clock, as rpc-load reads it; the
// client's own CPU time per call is printed too (client_cpu_ns_per_call): with one call in
// flight it is part of every round trip, whichever server answers.
//
// Every answer is checked: Call must return no error (transport, ttrpc status, decoding) and the
// response must say SERVING; anything else counts as an error and makes the exit status 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/containerd/ttrpc"
)

const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop

	// A server that stops answering must fail the run, not hang it (rpc-load: 5 s too).
	callTimeout  = 5 * time.Second
	connectTries = 500 // 10 ms apart: the server was just started
)

type loadOpts struct {
	pid, connections, depth, warmupMs, durationMs *int
}

func loadFlags() loadOpts {
	return loadOpts{
		pid:         flag.Int("pid", 0, "(--load) the server process, to measure its CPU time per call"),
		connections: flag.Int("connections", 4, "(--load) connections, one ttrpc.Client each"),
		depth:       flag.Int("depth", 1, "(--load) calls in flight per connection, one goroutine each"),
		warmupMs:    flag.Int("warmup-ms", 300, "(--load) load before the measured window"),
		durationMs:  flag.Int("duration-ms", 2000, "(--load) the measured window"),
	}
}

// caller is one goroutine's results; only it writes them until the WaitGroup is done.
type caller struct {
	lat    []time.Duration
	calls  uint64
	errors uint64
	what   string
}

func (c *caller) run(client *ttrpc.Client, phase *int32, wg *sync.WaitGroup) {
	defer wg.Done()
	for atomic.LoadInt32(phase) != phaseStop {
		var resp healthCheckResponse
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		t0 := time.Now()
		err := client.Call(ctx, "grpc.Health", "Check", &checkRequest{}, &resp)
		d := time.Since(t0)
		cancel()
		if err == nil && resp.Status != servingOK {
			err = fmt.Errorf("status %d, not SERVING", resp.Status)
		}
		if err != nil {
			// The connection is of no further use after a transport error, and a server
			// that answers wrongly once has failed the run: stop this caller.
			c.errors++
			c.what = err.Error()
			return
		}
		if atomic.LoadInt32(phase) == phaseMeasure {
			c.calls++
			c.lat = append(c.lat, d)
		}
	}
}

func dialRetry(socket string) (net.Conn, error) {
	for tries := 0; ; tries++ {
		conn, err := net.Dial("unix", socket)
		if err == nil {
			return conn, nil
		}
		if tries == connectTries ||
			!(errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)) {
			return nil, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cpuNs reads the process CPU clock of pid (all its threads), as clock_getcpuclockid(3) names
// it: ((~pid) << 3) | CPUCLOCK_SCHED; pid 0: this process (CLOCK_PROCESS_CPUTIME_ID).
func cpuNs(pid int) (uint64, error) {
	clk := int32(^int32(pid))<<3 | 2
	if pid == 0 {
		clk = 2
	}
	var ts syscall.Timespec
	_, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, uintptr(clk),
		uintptr(unsafe.Pointer(&ts)), 0)
	if e != 0 {
		return 0, e
	}
	return uint64(ts.Sec)*1e9 + uint64(ts.Nsec), nil
}

func usec(d time.Duration) float64 {
	return float64(d.Nanoseconds()) / 1e3
}

func runLoad(socket string, o loadOpts) int {
	if *o.connections < 1 || *o.connections > 64 || *o.depth < 1 || *o.depth > 1024 ||
		*o.warmupMs < 0 || *o.durationMs < 10 || *o.pid < 0 {
		fmt.Fprintln(os.Stderr, "ttrpc-peer --load: --connections 1..64, --depth 1..1024, "+
			"--warmup-ms >= 0, --duration-ms >= 10")
		return 2
	}
	if *o.pid > 0 {
		if _, err := cpuNs(*o.pid); err != nil {
			fmt.Fprintf(os.Stderr, "ttrpc-peer --load: CPU clock of pid %d: %v\n", *o.pid, err)
			return 1
		}
	}
	var clients []*ttrpc.Client
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	for i := 0; i < *o.connections; i++ {
		conn, err := dialRetry(socket)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ttrpc-peer --load: connect %s: %v\n", socket, err)
			return 1
		}
		clients = append(clients, ttrpc.NewClient(conn))
	}

	phase := phaseWarmup
	callers := make([]caller, *o.connections**o.depth)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go callers[i].run(clients[i / *o.depth], &phase, &wg)
	}
	ret := 0
	var cpu0, cpu1, self0, self1 uint64
	var err, err0, err1 error
	time.Sleep(time.Duration(*o.warmupMs) * time.Millisecond)
	if *o.pid > 0 {
		if cpu0, err = cpuNs(*o.pid); err != nil {
			ret = 1
		}
	}
	self0, err0 = cpuNs(0)
	t0 := time.Now()
	atomic.StoreInt32(&phase, phaseMeasure)
	time.Sleep(time.Duration(*o.durationMs) * time.Millisecond)
	self1, err1 = cpuNs(0)
	if *o.pid > 0 {
		if cpu1, err = cpuNs(*o.pid); err != nil {
			ret = 1
		}
	}
	if err0 != nil || err1 != nil {
		fmt.Fprintln(os.Stderr, "ttrpc-peer --load: reading its own CPU clock failed")
		ret = 1
	}
	secs := time.Since(t0).Seconds()
	atomic.StoreInt32(&phase, phaseStop)
	wg.Wait()

	var calls, errs uint64
	var lat []time.Duration
	for i := range callers {
		c := &callers[i]
		calls += c.calls
		errs += c.errors
		lat = append(lat, c.lat...)
		if c.errors > 0 {
			fmt.Fprintf(os.Stderr, "ttrpc-peer --load: connection %d: %s\n", i / *o.depth, c.what)
			ret = 1
		}
	}
	if calls == 0 && ret == 0 {
		fmt.Fprintln(os.Stderr, "ttrpc-peer --load: no call answered in the measured window")
		ret = 1
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var p50, p99 float64
	if len(lat) > 0 {
		p50, p99 = usec(lat[len(lat)/2]), usec(lat[len(lat)*99/100])
	}
	perCall := func(ns uint64) float64 {
		if calls == 0 {
			return 0
		}
		return float64(ns) / float64(calls)
	}
	fmt.Printf("calls=%d errors=%d seconds=%.3f calls_per_s=%.0f p50_us=%.1f p99_us=%.1f "+
		"client_cpu_ns_per_call=%.0f", calls, errs, secs, float64(calls)/secs, p50, p99,
		perCall(self1-self0))
	if *o.pid > 0 {
		fmt.Printf(" cpu_ns_per_call=%.0f", perCall(cpu1-cpu0))
	}
	fmt.Println()
	return ret
}

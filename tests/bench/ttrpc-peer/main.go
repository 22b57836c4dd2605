// ttrpc-peer: the benchmark's reference server.  containerd's Go ttrpc server (Debian's
// golang-github-containerd-ttrpc-dev) serving grpc.Health/Check on a unix socket, so that
// tests/bench can measure our agent and this peer under the same load client in the same run.
// With --load it is the other end instead: a client of containerd's Go ttrpc (load.go), as the
// Kata Go runtime talks to the agent, driving either server.
//
// There is no generated code: the two messages are written by hand with the methods that
// gogo/protobuf's fast-path looks for (Marshal/Unmarshal, as gogo's marshaler plugins generate
// them for containerd's and Kata's Go services), so the peer pays what a real Go ttrpc service
// pays, not the reflection fallback.
//
// Usage: ttrpc-peer --socket PATH   (serves until SIGTERM/SIGINT; prints "ready" once listening),
// or ttrpc-peer --load --socket PATH [load options]   (load.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/containerd/ttrpc"
)

// Wire types and field numbers from agent/proto/health.proto.
const (
	wireVarint = 0
	wire64     = 1
	wireBytes  = 2
	wire32     = 5
	servingOK  = 1 // HealthCheckResponse.ServingStatus.SERVING
)

var errTruncated = errors.New("protobuf: truncated message")

// checkRequest is grpc.CheckRequest {string service = 1}.
type checkRequest struct {
	Service string
}

func (m *checkRequest) Reset()         { *m = checkRequest{} }
func (m *checkRequest) String() string { return fmt.Sprintf("CheckRequest{%q}", m.Service) }
func (m *checkRequest) ProtoMessage()  {}

func readVarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * uint(i))
		if b[i] < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errTruncated
}

// walkFields calls field for each field of the message b: its number, wire type, the value of
// a varint and the bytes of a length-delimited field.  Fixed-width fields are skipped, as
// generated code skips unknown fields.
func walkFields(b []byte, field func(num uint64, wtype uint64, v uint64, data []byte)) error {
	for len(b) > 0 {
		key, n, err := readVarint(b)
		if err != nil {
			return err
		}
		b = b[n:]
		var skip, v uint64
		switch key & 7 {
		case wireVarint:
			v, n, err = readVarint(b)
			if err != nil {
				return err
			}
			b = b[n:]
		case wire64:
			skip = 8
		case wire32:
			skip = 4
		case wireBytes:
			skip, n, err = readVarint(b)
			if err != nil {
				return err
			}
			b = b[n:]
		default:
			return fmt.Errorf("protobuf: unsupported wire type %d", key&7)
		}
		if skip > uint64(len(b)) {
			return errTruncated
		}
		field(key>>3, key&7, v, b[:skip])
		b = b[skip:]
	}
	return nil
}

// Unmarshal decodes field 1 and skips anything else, as generated code does.
func (m *checkRequest) Unmarshal(b []byte) error {
	return walkFields(b, func(num, wtype, _ uint64, data []byte) {
		if num == 1 && wtype == wireBytes {
			m.Service = string(data)
		}
	})
}

// Marshal: proto3 omits an empty string; the load client's Service is always short.
func (m *checkRequest) Marshal() ([]byte, error) {
	if m.Service == "" {
		return []byte{}, nil
	}
	if len(m.Service) > 0x7f {
		return nil, fmt.Errorf("service name of %d bytes", len(m.Service))
	}
	return append([]byte{1<<3 | wireBytes, byte(len(m.Service))}, m.Service...), nil
}

// healthCheckResponse is grpc.HealthCheckResponse {ServingStatus status = 1}.
type healthCheckResponse struct {
	Status int32
}

func (m *healthCheckResponse) Reset() { *m = healthCheckResponse{} }
func (m *healthCheckResponse) String() string {
	return fmt.Sprintf("HealthCheckResponse{%d}", m.Status)
}
func (m *healthCheckResponse) ProtoMessage() {}

// Marshal: proto3 omits a zero enum; statuses are small, so one varint byte suffices.
func (m *healthCheckResponse) Marshal() ([]byte, error) {
	if m.Status == 0 {
		return []byte{}, nil
	}
	if m.Status < 0 || m.Status > 0x7f {
		return nil, fmt.Errorf("status %d out of range", m.Status)
	}
	return []byte{1<<3 | wireVarint, byte(m.Status)}, nil
}

// Unmarshal decodes field 1 (a varint) and skips anything else, as generated code does.
func (m *healthCheckResponse) Unmarshal(b []byte) error {
	return walkFields(b, func(num, wtype, v uint64, _ []byte) {
		if num == 1 && wtype == wireVarint {
			m.Status = int32(v)
		}
	})
}

func check(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	var req checkRequest
	if err := unmarshal(&req); err != nil {
		return nil, err
	}
	return &healthCheckResponse{Status: servingOK}, nil
}

func main() {
	socket := flag.String("socket", "", "unix socket path to listen on (removed first), or with --load to connect to")
	load := flag.Bool("load", false, "be the load client (load.go), not the server")
	lo := loadFlags()
	flag.Parse()
	if *socket == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: ttrpc-peer --socket PATH\n"+
			"       ttrpc-peer --load --socket PATH [--pid PID] [--connections N] [--depth N]\n"+
			"                  [--warmup-ms MS] [--duration-ms MS]")
		os.Exit(2)
	}
	if *load {
		os.Exit(runLoad(*socket, lo))
	}
	serve(*socket)
}

func serve(socket string) {
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "ttrpc-peer: remove %s: %v\n", socket, err)
		os.Exit(1)
	}
	l, err := net.Listen("unix", socket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-peer: listen %s: %v\n", socket, err)
		os.Exit(1)
	}
	srv, err := ttrpc.NewServer()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-peer: %v\n", err)
		os.Exit(1)
	}
	srv.Register("grpc.Health", map[string]ttrpc.Method{"Check": check})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Println("ready")
	if err := srv.Serve(ctx, l); err != nil && !errors.Is(err, ttrpc.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "ttrpc-peer: serve: %v\n", err)
		os.Exit(1)
	}
}

package main

import (
	"math"
	"testing"
)

const wrkOutput = `Running 2s test @ http://127.0.0.1:1/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms  500.00us   9.00ms   90.00%
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    1.50ms
     99%    5.11ms
  11392 requests in 2.00s, 7.00MB read
  Socket errors: connect 1, read 2, write 0, timeout 32
  Non-2xx or 3xx responses: 3
Requests/sec:   5696.00
Transfer/sec:      3.50MB
`

func TestParseWrk(t *testing.T) {
	s, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if s.rps != 5696 || s.requests != 11392 || !near(s.p50, 812e-6) || !near(s.p99, 5.11e-3) || s.bad != 6 || s.timeouts != 32 {
		t.Fatalf("parseWrk = %+v", s)
	}
	if _, err := parseWrk("Running 2s test\n"); err == nil {
		t.Fatal("no error for an empty report")
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{5, 1, 3}); m != 3 {
		t.Fatal(m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Fatal(m)
	}
}

func TestPairedRatios(t *testing.T) {
	a := []sample{{rps: 90}, {rps: 50}, {rps: 120}}
	b := []sample{{rps: 100}, {rps: 100}, {rps: 100}, {rps: 7}}
	got := pairedRatios(a, b, func(s sample) float64 { return s.rps })
	want := []float64{0.9, 0.5, 1.2}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if m := median(got); m != 0.9 {
		t.Errorf("median %v, want 0.9", m)
	}
	if z := pairedRatios(nil, b, func(s sample) float64 { return s.rps }); len(z) != 1 || z[0] != 0 {
		t.Errorf("no rounds: %v", z)
	}
}

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func msec(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestQuantile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = msec(float64(100 - i)) // 100 ms down to 1 ms: unsorted on purpose
	}
	for _, tc := range []struct {
		name string
		d    []time.Duration
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one value", []time.Duration{msec(3)}, 0.99, msec(3)},
		{"p50 of 1..100", hundred, 0.5, msec(50)},
		{"p99 of 1..100", hundred, 0.99, msec(99)},
		{"p100 of 1..100", hundred, 1, msec(100)},
		{"p50 of 4: the lower middle", []time.Duration{msec(4), msec(1), msec(3), msec(2)}, 0.5, msec(2)},
		{"p99 of 10: the largest", []time.Duration{msec(1), msec(2), msec(3), msec(4), msec(5), msec(6), msec(7), msec(8), msec(9), msec(10)}, 0.99, msec(10)},
		{"negative differences", []time.Duration{-msec(2), msec(1), -msec(5)}, 0.5, -msec(2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := append([]time.Duration(nil), tc.d...)
			if got := quantile(tc.d, tc.q); got != tc.want {
				t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
			if diff := cmp.Diff(before, tc.d); diff != "" {
				t.Errorf("quantile changed its input (-before +after):\n%s", diff)
			}
		})
	}
}

func TestParseStatCPU(t *testing.T) {
	// Fields 14 and 15 (utime, stime) are 250 and 150 ticks: 4s at 100 ticks a second.
	const rest = " S 1 2 3 0 -1 4194560 1234 0 0 0 250 150 0 0 20 0 12 0 4242 1000000 5000 18446744073709551615"
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		wantErr    bool
	}{
		{name: "plain name", stat: "4242 (server)" + rest, want: 4 * time.Second},
		{name: "name with spaces and parentheses", stat: "4242 (a (b) c)" + rest, want: 4 * time.Second},
		{name: "no name", stat: "4242 server" + rest, wantErr: true},
		{name: "cut short", stat: "4242 (server) S 1 2 3", wantErr: true},
		{name: "not a number", stat: "4242 (server) S 1 2 3 0 -1 4194560 1234 0 0 0 x 150 0", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU(tc.stat)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseStatCPU: err = %v, want error: %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseStatCPU = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseStatusRSS(t *testing.T) {
	const status = "Name:\tserver\nVmPeak:\t  900000 kB\nVmRSS:\t   65432 kB\nThreads:\t12\n"
	got, err := parseStatusRSS(status)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(65432 * 1024); got != want {
		t.Errorf("parseStatusRSS = %d, want %d", got, want)
	}
	for _, bad := range []string{"Name:\tserver\n", "VmRSS:\t65432 MB\n", "VmRSS:\tmany kB\n"} {
		if _, err := parseStatusRSS(bad); err == nil {
			t.Errorf("parseStatusRSS(%q) did not fail", bad)
		}
	}
}

// sampleAt returns a procSample s seconds after t0 with cpu milliseconds of CPU.
func sampleAt(t0 time.Time, s float64, cpu float64) procSample {
	return procSample{at: t0.Add(time.Duration(s * float64(time.Second))), cpu: msec(cpu)}
}

func TestCPUShare(t *testing.T) {
	t0 := time.Now()
	if got := cpuShare(sampleAt(t0, 0, 1000), sampleAt(t0, 10, 1500)); got != 0.05 {
		t.Errorf("500ms of CPU in 10s = %v of a core, want 0.05", got)
	}
	if got := cpuShare(sampleAt(t0, 5, 0), sampleAt(t0, 5, 10)); got != 0 {
		t.Errorf("no time passed: %v, want 0", got)
	}
}

func TestTallyLogs(t *testing.T) {
	lines := []string{
		`{"time":"t","level":"WARN","msg":"poll failed; retrying","task_id":"a"}`,
		`{"time":"t","level":"WARN","msg":"poll failed; retrying","task_id":"b"}`,
		`{"time":"t","level":"INFO","msg":"fiber budget","endpoint":"poll","granted":240}`,
		`{"time":"t","level":"INFO","msg":"fiber budget","endpoint":"start","granted":1000}`,
		`panic: something`,
		``,
	}
	got := tallyLogs(lines)
	want := logTally{total: 5, notPoll: 1, byKind: map[string]int{
		"WARN poll failed; retrying": 2,
		"INFO fiber budget (poll)":   1,
		"INFO fiber budget (start)":  1,
		"unparsed":                   1,
	}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(logTally{})); diff != "" {
		t.Errorf("tallyLogs (-want +got):\n%s", diff)
	}
	wantString := "`WARN poll failed; retrying` ×2, `INFO fiber budget (poll)` ×1, `INFO fiber budget (start)` ×1, `unparsed` ×1"
	if s := got.String(); s != wantString {
		t.Errorf("String() = %s\nwant %s", s, wantString)
	}
	if s := tallyLogs(nil).String(); s != "none" {
		t.Errorf("String() of no lines = %q, want none", s)
	}
}

func TestMetricValue(t *testing.T) {
	const text = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 1074
# HELP fibergate_budget_fast_failures_total Calls refused at once.
# TYPE fibergate_budget_fast_failures_total counter
fibergate_budget_fast_failures_total{endpoint="cancel"} 0
fibergate_budget_fast_failures_total{endpoint="poll"} 2557
fibergate_budget_fast_failures_total{endpoint="start"} 3
`
	fams, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
		found  bool
	}{
		{"go_goroutines", nil, 1074, true},
		{"fibergate_budget_fast_failures_total", []string{"endpoint=poll"}, 2557, true},
		{"fibergate_budget_fast_failures_total", nil, 2560, true},
		{"fibergate_budget_fast_failures_total", []string{"endpoint=other"}, 0, false},
		{"absent", nil, 0, false},
	} {
		got, found := metricValue(fams, tc.name, tc.labels...)
		if got != tc.want || found != tc.found {
			t.Errorf("metricValue(%s, %v) = %v, %v; want %v, %v", tc.name, tc.labels, got, found, tc.want, tc.found)
		}
	}
	if _, err := parseMetrics(strings.NewReader("go_goroutines not-a-number\n")); err == nil {
		t.Error("parseMetrics accepted a malformed line")
	}
}

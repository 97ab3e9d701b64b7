package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsAddr waits (at most 10s) for the server's "metrics listening" log line, which it
// writes when started with -metrics-addr, and returns the address it names.
func (s *stack) metricsAddr(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for line := range strings.Lines(s.server.Logs()) {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"metrics_addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "metrics listening" && rec.Addr != "" {
				return rec.Addr, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the server logged no metrics address: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// scrapeMetrics reads the Prometheus metrics the server serves at addr.
func scrapeMetrics(ctx context.Context, addr string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads metrics in the Prometheus text format.
func parseMetrics(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return fams, nil
}

// metricValue returns the value of the gauge, counter or untyped series name whose labels
// include labels (name=value, ...), summed over the series that match; false if none does.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	var sum float64
	found := false
	for _, m := range f.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		default:
			continue
		}
		found = true
	}
	return sum, found
}

// hasLabels reports whether m carries every name=value of want.
func hasLabels(m *dto.Metric, want []string) bool {
	for _, kv := range want {
		name, value, _ := strings.Cut(kv, "=")
		ok := false
		for _, l := range m.GetLabel() {
			if l.GetName() == name && l.GetValue() == value {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Package emftest reads the metric lines a test captured and checks each against CloudWatch's
// Embedded Metric Format: the _aws.CloudWatchMetrics directive, and a root member for every
// dimension and metric it names. Tests use it to assert that a metric was emitted where it should.
package emftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// Buffer is an io.Writer safe for concurrent writes (bot-ack notifies transfers side by side).
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes is what was written so far.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// Point is one metric value of a line with its dimensions (for each dimension set).
type Point struct {
	Namespace string
	Name      string
	Unit      string
	Value     float64
	// Sets are the dimension sets, each as name → value.
	Sets []map[string]string
	// Root is the whole line (properties included).
	Root map[string]any
}

// units CloudWatch accepts (MetricDatum.Unit).
var units = map[string]bool{}

func init() {
	for _, u := range strings.Fields(`Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes
		Gigabytes Terabytes Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second
		Kilobytes/Second Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second
		Kilobits/Second Megabits/Second Gigabits/Second Terabits/Second Count/Second None`) {
		units[u] = true
	}
}

// Parse validates every line of out (each must be an EMF document) and returns its points.
func Parse(out []byte) ([]Point, error) {
	var points []Point
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		ps, err := Validate(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w: %s", n, err, sc.Bytes())
		}
		points = append(points, ps...)
	}
	return points, sc.Err()
}

// Validate checks one line against the EMF specification and returns its points.
func Validate(line []byte) ([]Point, error) {
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	awsRaw, ok := root["_aws"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no _aws object")
	}
	ts, ok := awsRaw["Timestamp"].(json.Number)
	if _, err := ts.Int64(); !ok || err != nil {
		return nil, fmt.Errorf("_aws.Timestamp is not an integer (epoch milliseconds)")
	}
	directives, ok := awsRaw["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		return nil, fmt.Errorf("_aws.CloudWatchMetrics is not a non-empty array")
	}
	var points []Point
	for i, raw := range directives {
		d, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("directive %d is not an object", i)
		}
		ns, _ := d["Namespace"].(string)
		if ns == "" || len(ns) > 1024 || strings.TrimSpace(ns) != ns {
			return nil, fmt.Errorf("directive %d: Namespace %q is not 1-1024 characters without surrounding space", i, ns)
		}
		dimSets, ok := d["Dimensions"].([]any)
		if !ok {
			return nil, fmt.Errorf("directive %d: Dimensions is not an array", i)
		}
		var sets []map[string]string
		for j, rawSet := range dimSets {
			set, ok := rawSet.([]any)
			if !ok || len(set) > 30 {
				return nil, fmt.Errorf("directive %d: dimension set %d is not an array of at most 30 names", i, j)
			}
			vals := map[string]string{}
			for _, rawName := range set {
				name, ok := rawName.(string)
				if !ok || name == "" {
					return nil, fmt.Errorf("directive %d: a dimension name is not a string", i)
				}
				v, ok := root[name].(string)
				if !ok || v == "" || len(v) > 1024 {
					return nil, fmt.Errorf("dimension %q has no string value at the root", name)
				}
				vals[name] = v
			}
			sets = append(sets, vals)
		}
		metrics, ok := d["Metrics"].([]any)
		if !ok || len(metrics) == 0 || len(metrics) > 100 {
			return nil, fmt.Errorf("directive %d: Metrics is not an array of 1-100 definitions", i)
		}
		for _, rawMetric := range metrics {
			m, ok := rawMetric.(map[string]any)
			name, _ := m["Name"].(string)
			if !ok || name == "" || len(name) > 1024 {
				return nil, fmt.Errorf("directive %d: a metric has no Name", i)
			}
			unit, hasUnit := m["Unit"].(string)
			if hasUnit && !units[unit] {
				return nil, fmt.Errorf("metric %s: unit %q is not a CloudWatch unit", name, unit)
			}
			num, ok := root[name].(json.Number)
			if !ok {
				return nil, fmt.Errorf("metric %s has no numeric value at the root", name)
			}
			v, err := num.Float64()
			if err != nil {
				return nil, fmt.Errorf("metric %s: %w", name, err)
			}
			points = append(points, Point{Namespace: ns, Name: name, Unit: unit, Value: v, Sets: sets, Root: root})
		}
	}
	return points, nil
}

// Sum adds the values of metric name whose dimensions include dims (in any of its sets).
func Sum(points []Point, name string, dims map[string]string) float64 {
	total := 0.0
	for _, p := range points {
		if p.Name != name {
			continue
		}
		for _, set := range p.Sets {
			if matches(set, dims) {
				total += p.Value
				break
			}
		}
	}
	return total
}

func matches(set, want map[string]string) bool {
	for k, v := range want {
		if set[k] != v {
			return false
		}
	}
	return true
}

// Package deploy_test checks what lifeboat ships for Prometheus and Grafana: the alert rules
// pass promtool's checks and unit tests, and every query in the rules and the dashboard names
// only metrics a daemon exports.
package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lifeboat-ha/lifeboat/daemon"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// promtool runs promtool with args in dir prometheus/ and fails the test with its output.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin := testenv.RequireTool(t, "promtool", "prometheus")
	cmd := exec.Command(bin, args...)
	cmd.Dir = "prometheus"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestPrometheusRulesCheck(t *testing.T) {
	promtool(t, "check", "rules", "lifeboat-rules.yml")
}

func TestPrometheusRulesUnitTests(t *testing.T) {
	promtool(t, "test", "rules", "lifeboat-rules_test.yml")
}

// promqlKeywords are the words of PromQL that are neither functions nor metrics.
var promqlKeywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
	"and", "or", "unless", "offset", "inf", "nan"}

var (
	stringRE   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	matcherRE  = regexp.MustCompile(`\{[^}]*\}`)
	rangeRE    = regexp.MustCompile(`\[[^\]]*\]`)
	groupingRE = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identRE    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
	numberRE   = regexp.MustCompile(`\b\d+(\.\d+)?(e[+-]?\d+|ms|[smhdwy])?\b`)
)

// metricNames returns the metric names a PromQL expression selects: what is left once strings,
// label matchers, ranges, groupings, numbers, function calls and keywords are taken out.
func metricNames(expr string) []string {
	e := stringRE.ReplaceAllString(expr, `""`)
	e = matcherRE.ReplaceAllString(e, " ")
	e = rangeRE.ReplaceAllString(e, " ")
	e = groupingRE.ReplaceAllString(e, " ")
	e = numberRE.ReplaceAllString(e, " ")
	var out []string
	for _, m := range identRE.FindAllString(e, -1) {
		if strings.HasSuffix(m, "(") || slices.Contains(promqlKeywords, strings.ToLower(m)) {
			continue // a function call, or a keyword
		}
		out = append(out, m)
	}
	return out
}

func TestMetricNamesParser(t *testing.T) {
	got := metricNames(`histogram_quantile(0.95, sum by (le) (rate(lifeboat_fence_seconds_bucket{instance=~"$instance",a="b(c)"}[$__rate_interval]))) > 0 or absent(lifeboat_leader) unless on (x) up offset 5m`)
	want := []string{"lifeboat_fence_seconds_bucket", "lifeboat_leader", "up"}
	if !slices.Equal(got, want) {
		t.Fatalf("metricNames: %v, want %v", got, want)
	}
}

// checkExported fails for each metric in expr that the daemon does not export; a histogram's
// _bucket, _sum and _count series count as its family's.
func checkExported(t *testing.T, where, expr string, exported []string) {
	t.Helper()
	names := metricNames(expr)
	if len(names) == 0 {
		t.Errorf("%s: no metric in %q", where, expr)
	}
	for _, n := range names {
		base := n
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suf); ok && slices.Contains(exported, b) {
				base = b
			}
		}
		if !slices.Contains(exported, base) {
			t.Errorf("%s: %q names %s, which the daemon does not export", where, expr, n)
		}
	}
}

// dashboard is the part of a Grafana dashboard that holds queries.
type dashboard struct {
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string  `json:"title"`
	Type    string  `json:"type"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func TestGrafanaDashboardNamesExportedMetrics(t *testing.T) {
	exported := daemon.MetricNames()
	b, err := os.ReadFile("grafana/lifeboat.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/lifeboat.json: %v", err)
	}
	queries := 0
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				queries++
				checkExported(t, "panel "+p.Title, tg.Expr, exported)
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			q := strings.TrimSuffix(strings.TrimPrefix(v.Definition, "label_values("), ")")
			checkExported(t, "variable "+v.Name, strings.Split(q, ",")[0], exported)
		}
	}
	if queries < 10 {
		t.Errorf("dashboard %q has %d queries, want a panel for each concern", d.Title, queries)
	}
}

func TestPrometheusRulesNameExportedMetrics(t *testing.T) {
	exported := daemon.MetricNames()
	b, err := os.ReadFile("prometheus/lifeboat-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("lifeboat-rules.yml: %v", err)
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			checkExported(t, "alert "+r.Alert, r.Expr, exported)
		}
	}
	if n == 0 {
		t.Fatal("no rules")
	}
}

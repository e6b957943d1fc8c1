// render is a stand-in for `helm template` in the chart tests (helm itself is not installable here): Go's
// text/template with the sprig functions and Helm's `include` and `toYaml`, strict about missing keys.
//
//	render [-namespace NS] [-set section.key=yamlValue ...] CHART_DIR
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

type sets []string

func (s *sets) String() string     { return strings.Join(*s, ",") }
func (s *sets) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	namespace := flag.String("namespace", "picchu", "release namespace")
	var overrides sets
	flag.Var(&overrides, "set", "section.key=yamlValue (repeatable)")
	flag.Parse()
	chartDir := flag.Arg(0)
	var values, chart map[string]interface{}
	must(readYAML(filepath.Join(chartDir, "values.yaml"), &values))
	must(readYAML(filepath.Join(chartDir, "Chart.yaml"), &chart))
	for _, set := range overrides {
		kv := strings.SplitN(set, "=", 2)
		path := strings.SplitN(kv[0], ".", 2)
		var v interface{}
		must(yaml.Unmarshal([]byte(kv[1]), &v))
		if len(path) == 1 {
			values[path[0]] = v
		} else {
			values[path[0]].(map[string]interface{})[path[1]] = v
		}
	}
	ctx := map[string]interface{}{
		"Values":  values,
		"Release": map[string]interface{}{"Name": "picchu", "Namespace": *namespace, "Service": "Helm"},
		"Files":   chartFiles{dir: chartDir},
		"Chart": map[string]interface{}{
			"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"],
		},
	}
	t := template.New("chart").Option("missingkey=error")
	funcs := sprig.TxtFuncMap()
	funcs["toYaml"] = func(v interface{}) (string, error) {
		b, err := yaml.Marshal(v)
		return strings.TrimSuffix(string(b), "\n"), err
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	t.Funcs(funcs)
	files, err := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	must(err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		must(err)
		_, err = t.New(filepath.Base(f)).Parse(string(b))
		must(err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasPrefix(name, "_") || !strings.HasSuffix(name, ".yaml") {
			continue
		}
		var buf bytes.Buffer
		must(t.ExecuteTemplate(&buf, name, ctx))
		fmt.Printf("---\n# Source: %s\n%s\n", name, buf.String())
	}
}

// chartFiles stands in for Helm's .Files: Get returns a chart file's content ("" when missing, as Helm does).
type chartFiles struct{ dir string }

func (f chartFiles) Get(name string) string {
	b, err := os.ReadFile(filepath.Join(f.dir, filepath.Clean("/"+name)))
	if err != nil {
		return ""
	}
	return string(b)
}

func readYAML(path string, out interface{}) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return yaml.Unmarshal(b, out)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

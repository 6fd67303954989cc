package kubectlplugin

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"

	"sigs.k8s.io/yaml"
)

// Output formats, as kubectl names them.
const (
	outputTable = "table"
	outputYAML  = "yaml"
	outputJSON  = "json"
)

var outputFormats = []string{outputTable, outputYAML, outputJSON}

// result is what a command prints: its table, and itself for yaml and json.
type result interface {
	table() table
}

// table is kubectl's default output: upper-case headers, columns padded by
// three spaces, "<none>" for nothing (what kubectl get prints).
type table struct {
	// title, when set, is one line above the table (can-i's answer).
	title  string
	header []string
	rows   [][]string
	// empty is printed instead of a table without rows, like kubectl's
	// "No resources found".
	empty string
}

func validateOutput(format string) error {
	for _, f := range outputFormats {
		if format == f {
			return nil
		}
	}
	return fmt.Errorf("--output %q: must be one of %s", format, strings.Join(outputFormats, ", "))
}

// printResult writes r in format to w.
func printResult(w io.Writer, format string, r result) error {
	switch format {
	case outputJSON:
		b, err := json.MarshalIndent(r, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case outputYAML:
		b, err := yaml.Marshal(r)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	default:
		return r.table().write(w)
	}
}

func (t table) write(w io.Writer) error {
	if t.title != "" {
		if _, err := fmt.Fprintln(w, plain(t.title)); err != nil {
			return err
		}
	}
	if len(t.rows) == 0 && t.empty != "" {
		_, err := fmt.Fprintln(w, plain(t.empty))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = cell(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// cell keeps a row on one line and the terminal as it is: a value may
// carry what someone else wrote (a name asked about, a message quoting a
// record), and a tab, newline or escape sequence in it would break the
// columns or drive the terminal. Control characters print as spaces.
func cell(s string) string {
	if s == "" {
		return "<none>"
	}
	return plain(s)
}

func plain(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestEveryCommandHasAnExample(t *testing.T) {
	a := &app{}
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		n++
		t.Run(c.CommandPath(), func(t *testing.T) {
			if strings.TrimSpace(c.Example) == "" {
				t.Errorf("%q has no Example", c.CommandPath())
			}
			if c.Short == "" {
				t.Errorf("%q has no Short help", c.CommandPath())
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(a.rootCommand())
	if n < 20 {
		t.Errorf("walked %d commands, want the whole tree", n)
	}
}

func TestHelpShowsExamples(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"root", []string{"--help"}, "radiusctl bypass issue alice"},
		{"subcommand", []string{"bypass", "issue", "--help"}, "Examples:"},
		{"test", []string{"test", "--help"}, "radiusctl test alice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, strings.NewReader(""), &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("help lacks %q:\n%s", tc.want, out.String())
			}
		})
	}
}

func TestCompletion(t *testing.T) {
	tests := []struct {
		shell    string
		want     string
		wantCode int
	}{
		{shell: "bash", want: "__start_radiusctl"},
		{shell: "zsh", want: "#compdef radiusctl"},
		{shell: "fish", want: "complete -c radiusctl"},
		{shell: "powershell", wantCode: 2},
	}
	for _, tc := range tests {
		t.Run(tc.shell, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run([]string{"completion", tc.shell}, strings.NewReader(""), &out, &errb)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tc.wantCode, errb.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("script lacks %q", tc.want)
			}
		})
	}
	// The scripts call the hidden __complete command, which must still work.
	var out, errb bytes.Buffer
	if code := run([]string{"__complete", "byp"}, strings.NewReader(""), &out, &errb); code != 0 || !strings.Contains(out.String(), "bypass") {
		t.Errorf("__complete byp: exit %d, %q %q", code, out.String(), errb.String())
	}
}

package main

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/radgate/radgate/config"
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
	// A script that cannot be written is a failure (exit 1), not a usage
	// error.
	var errb bytes.Buffer
	if code := run([]string{"completion", "bash"}, strings.NewReader(""), &failingWriter{}, &errb); code != 1 {
		t.Errorf("completion to a full disk: exit %d, want 1: %s", code, errb.String())
	}
	// The scripts call the hidden __complete command, which must still work.
	var out bytes.Buffer
	errb.Reset()
	if code := run([]string{"__complete", "byp"}, strings.NewReader(""), &out, &errb); code != 0 || !strings.Contains(out.String(), "bypass") {
		t.Errorf("__complete byp: exit %d, %q %q", code, out.String(), errb.String())
	}
}

func TestLocalAddr(t *testing.T) {
	v4 := []config.Client{{Name: "localhost", Network: netip.MustParsePrefix("127.0.0.1/32")}}
	v6 := append(v4, config.Client{Name: "localhost6", Network: netip.MustParsePrefix("::1/128")})
	tests := []struct {
		listen  string
		clients []config.Client
		want    string
	}{
		{"0.0.0.0:1812", v4, "127.0.0.1:1812"},
		{":1812", v4, "127.0.0.1:1812"},
		{"[::]:1812", v4, "127.0.0.1:1812"},
		{"[::]:1812", v6, "[::1]:1812"},
		{"10.0.0.2:1812", v6, "10.0.0.2:1812"},
	}
	for _, tt := range tests {
		if got := localAddr(tt.listen, tt.clients); got != tt.want {
			t.Errorf("localAddr(%q) = %q, want %q", tt.listen, got, tt.want)
		}
	}
}

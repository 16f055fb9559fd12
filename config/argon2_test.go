package config

import (
	"strings"
	"testing"
)

func TestArgon2(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    Argon2
		wantErr string // substring; "" means valid
	}{
		{name: "defaults", input: "", want: Argon2{MemoryKiB: 19456, Time: 2, Threads: 1}},
		{name: "MiB", input: "primary {\n  argon2 {\n    memory = \"64MiB\"\n    time = 3\n    threads = 4\n  }\n}\n",
			want: Argon2{MemoryKiB: 65536, Time: 3, Threads: 4}},
		{name: "KiB and partial", input: "primary {\n  argon2 {\n    memory = \"47104KiB\"\n  }\n}\n",
			want: Argon2{MemoryKiB: 47104, Time: 2, Threads: 1}},
		{name: "GiB", input: "primary {\n  argon2 {\n    memory = \"1GiB\"\n  }\n}\n",
			want: Argon2{MemoryKiB: 1 << 20, Time: 2, Threads: 1}},
		{name: "no unit", input: "primary {\n  argon2 {\n    memory = \"19456\"\n  }\n}\n",
			wantErr: `test.hcl:3: primary.argon2.memory: invalid size "19456"`},
		{name: "above 4GiB", input: "primary {\n  argon2 {\n    memory = \"5GiB\"\n  }\n}\n",
			wantErr: `test.hcl:3: primary.argon2.memory: invalid size "5GiB"`},
		{name: "zero", input: "primary {\n  argon2 {\n    memory = \"0MiB\"\n  }\n}\n",
			wantErr: `test.hcl:3: primary.argon2.memory: invalid size`},
		{name: "time 0", input: "primary {\n  argon2 {\n    time = 0\n  }\n}\n",
			wantErr: `test.hcl:3: primary.argon2.time: 0 is not in 1..64`},
		{name: "threads 256", input: "primary {\n  argon2 {\n\n    threads = 256\n  }\n}\n",
			wantErr: `test.hcl:4: primary.argon2.threads: 256 is not in 1..255`},
		{name: "memory below 8 KiB per thread", input: "primary {\n  argon2 {\n    memory = \"16KiB\"\n    threads = 4\n  }\n}\n",
			wantErr: `test.hcl:3: primary.argon2.memory: 16 KiB is below 8 KiB per thread`},
		{name: "unknown key", input: "primary {\n  argon2 {\n    salt = 16\n  }\n}\n",
			wantErr: `test.hcl:3: Unsupported argument`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.input), "test.hcl")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.Primary.Argon2 != tt.want {
				t.Errorf("Argon2 = %+v, want %+v", c.Primary.Argon2, tt.want)
			}
		})
	}
}

package chart

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The manager binary built by hack/build-manager.sh, once per test run.
var (
	managerOnce sync.Once
	managerPath string
	managerErr  string
)

// buildManager runs the Dockerfile's build command into a temp dir. The first
// run on a cold build cache takes a few minutes on 2 cores (-trimpath builds
// share nothing with test builds); `make test` warms the cache beforehand.
func buildManager(t *testing.T) string {
	t.Helper()
	managerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "scopedns-manager-")
		if err != nil {
			managerErr = err.Error()
			return
		}
		out := filepath.Join(dir, "manager")
		cmd := exec.Command("hack/build-manager.sh", out)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			managerErr = "hack/build-manager.sh: " + err.Error() + "\n" + string(b)
			return
		}
		managerPath = out
	})
	if managerErr != "" {
		t.Fatal(managerErr)
	}
	return managerPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if managerPath != "" {
		os.RemoveAll(filepath.Dir(managerPath))
	}
	os.Exit(code)
}

// dockerfile returns the Dockerfile's instructions, continuation lines joined.
func dockerfile(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(rel("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

// The image is built by hack/build-manager.sh, with the Go of go.mod, onto
// distroless as UID 65532 (the chart's runAsUser); the script's binary is
// static, stripped and built with -trimpath.
func TestManagerImageBuild(t *testing.T) {
	gomod, err := os.ReadFile(rel("go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goVersion == nil {
		t.Fatal("go.mod has no go line")
	}

	var froms, runs, copies []string
	var user string
	for _, ins := range dockerfile(t) {
		word, args, _ := strings.Cut(ins, " ")
		switch strings.ToUpper(word) {
		case "FROM":
			froms = append(froms, args)
		case "RUN":
			runs = append(runs, args)
		case "COPY":
			copies = append(copies, args)
		case "USER":
			user = strings.TrimSpace(args)
		}
	}
	if len(froms) != 2 {
		t.Fatalf("Dockerfile: want a builder and a final stage, got FROM %q", froms)
	}
	builder := "golang:" + string(goVersion[1]) + "-bookworm"
	if !regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(builder) + `(@sha256:[0-9a-f]{64})?\s+AS\s+builder$`).MatchString(froms[0]) {
		t.Errorf("Dockerfile: builder stage is FROM %s, want %s (go.mod's go %s) AS builder", froms[0], builder, goVersion[1])
	}
	if !regexp.MustCompile(`^gcr\.io/distroless/static:nonroot(@sha256:[0-9a-f]{64})?$`).MatchString(froms[1]) {
		t.Errorf("Dockerfile: final stage is FROM %s, want gcr.io/distroless/static:nonroot", froms[1])
	}
	if user != "65532:65532" {
		t.Errorf("Dockerfile: USER %q, want 65532:65532 (distroless nonroot, the chart's runAsUser)", user)
	}
	built := false
	for _, r := range runs {
		if regexp.MustCompile(`(^|\s)hack/build-manager\.sh /out/manager$`).MatchString(r) {
			built = true
		}
	}
	if !built {
		t.Errorf("Dockerfile: no RUN … hack/build-manager.sh /out/manager among %q", runs)
	}

	// Every directory the manager's packages live in reaches the build stage:
	// allowed by .dockerignore and copied by the Dockerfile.
	ignore, err := os.ReadFile(rel(".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/scopedns/scopedns/"
	pkgs := run(t, nil, "go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.ImportPath}}{{end}}{{end}}", "./cmd/manager")
	dirs := map[string]bool{}
	for _, p := range strings.Fields(string(pkgs)) {
		top, _, _ := strings.Cut(strings.TrimPrefix(p, module), "/")
		dirs[top] = true
	}
	for dir := range dirs {
		if !regexp.MustCompile(`(?m)^!` + regexp.QuoteMeta(dir) + `/$`).Match(ignore) {
			t.Errorf(".dockerignore does not let %s/ into the build context; cmd/manager imports packages from it", dir)
		}
		if !slices.Contains(copies, dir+"/ "+dir+"/") {
			t.Errorf("Dockerfile: no COPY %s/ %s/; cmd/manager imports packages from it", dir, dir)
		}
	}

	script, err := os.ReadFile(rel("hack", "build-manager.sh"))
	if err != nil {
		t.Fatal(err)
	}
	const cmdline = `CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "${out}" ./cmd/manager`
	if !strings.Contains(string(script), "\n"+cmdline+"\n") {
		t.Errorf("hack/build-manager.sh does not run %s", cmdline)
	}

	if testing.Short() {
		t.Skip("-short: not building the manager")
	}
	bin := buildManager(t)
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" {
		t.Errorf("build setting CGO_ENABLED=%q, want 0", settings["CGO_ENABLED"])
	}
	if settings["-trimpath"] != "true" {
		t.Errorf("build setting -trimpath=%q, want true", settings["-trimpath"])
	}
	if info.Path != "github.com/scopedns/scopedns/cmd/manager" {
		t.Errorf("main package %s, want github.com/scopedns/scopedns/cmd/manager", info.Path)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Skipf("not an ELF binary (built for %s?), static linking not checked: %v", settings["GOOS"], err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the manager is dynamically linked (%s program header): distroless/static has no libc", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the manager needs shared libraries %q", libs)
	}
	for _, name := range []string{".symtab", ".debug_info"} {
		if f.Section(name) != nil {
			t.Errorf("the manager has a %s section: -ldflags=\"-s -w\" should strip it", name)
		}
	}
}

// managerFlags lists the flags the manager binary defines.
func managerFlags(t *testing.T) map[string]bool {
	t.Helper()
	out, _ := exec.Command(buildManager(t), "-h").CombinedOutput() // -h prints the flags and exits
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllSubmatch(out, -1) {
		flags[string(m[1])] = true
	}
	if len(flags) < 5 {
		t.Fatalf("could not list the manager's flags from -h:\n%s", out)
	}
	return flags
}

package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium finds headless Chromium (Debian's package: apt-get install
// chromium). Without it the test is skipped, or fails when CI is set.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GAOL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found: CI must install it (apt-get install chromium)")
	}
	t.Skip("chromium not found (apt-get install chromium)")
	return ""
}

// runChromium runs headless Chromium on a file with the given extra
// arguments and returns its standard output and error.
func runChromium(t *testing.T, bin, page string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
		"--hide-scrollbars", "--force-device-scale-factor=1",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
	}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), "file://"+page)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errb.String())
	}
	return out.String(), errb.String()
}

// consoleLine matches what Chromium logs for a console message, which is
// also where it reports a blocked fetch (the page's Content-Security-Policy
// forbids every one) or a script error.
var consoleLine = regexp.MustCompile(`(?m)^.*:CONSOLE[:(].*$`)

// TestHTMLInBrowser renders the HTML report in headless Chromium: no console
// messages (so no fetch was attempted and nothing failed), the map, chart and
// tables are in the rendered DOM, and a screenshot matches the reference
// under testdata/ within a tolerance.
func TestHTMLInBrowser(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := Write(&buf, "html", history(), Options{Since: since, Now: now}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	dom, stderr := runChromium(t, bin, page, "--dump-dom")
	if msgs := consoleLine.FindAllString(stderr, -1); len(msgs) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(msgs, "\n"))
	}
	for what, re := range map[string]string{
		"country shapes": `<path d="M`,
		"bubbles":        `<circle class="b"`,
		"chart bars":     `<rect x=`,
		"tables":         `<table>`,
	} {
		if n := len(regexp.MustCompile(regexp.QuoteMeta(re)).FindAllString(dom, -1)); n == 0 {
			t.Errorf("rendered page has no %s", what)
		}
	}
	if n := strings.Count(dom, `<path d="M`); n < 150 {
		t.Errorf("rendered map has %d country shapes, want at least 150", n)
	}
	if n := strings.Count(dom, `<circle class="b"`); n != 6 {
		t.Errorf("rendered map has %d bubbles, want 6 (Beijing, China, Clifton, United States, Netherlands, Russia)", n)
	}

	shot := filepath.Join(dir, "report.png")
	_, stderr = runChromium(t, bin, page, "--screenshot="+shot, "--window-size=1280,1600")
	if msgs := consoleLine.FindAllString(stderr, -1); len(msgs) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(msgs, "\n"))
	}
	got, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join("testdata", "report.png")
	if *update {
		if err := os.WriteFile(ref, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(ref)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	diff, err := pixelDiff(want, got)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot differs from the reference in %.3f%% of its pixels", diff*100)
	if diff > maxPixelDiff {
		bad := filepath.Join(os.TempDir(), "gaol-report-screenshot.png")
		os.WriteFile(bad, got, 0o644)
		t.Errorf("screenshot differs from testdata/report.png in %.2f%% of its pixels (at most %.2f%%); it is kept in %s",
			diff*100, maxPixelDiff*100, bad)
	}
}

// maxPixelDiff is the share of pixels that may differ (font rendering,
// anti-aliasing) before the screenshot counts as changed.
const maxPixelDiff = 0.01

// pixelDiff returns the share of pixels that differ noticeably (any channel
// by more than 48 of 255) between two PNG images of the same size.
func pixelDiff(a, b []byte) (float64, error) {
	ia, err := png.Decode(bytes.NewReader(a))
	if err != nil {
		return 0, err
	}
	ib, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	if ia.Bounds() != ib.Bounds() {
		return 1, nil
	}
	return diffImages(ia, ib), nil
}

func diffImages(a, b image.Image) float64 {
	r := a.Bounds()
	differ := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if far(r1, r2) || far(g1, g2) || far(b1, b2) {
				differ++
			}
		}
	}
	return float64(differ) / float64(r.Dx()*r.Dy())
}

func far(x, y uint32) bool {
	d := int(x>>8) - int(y>>8)
	return d > 48 || d < -48
}

func TestConsoleLine(t *testing.T) {
	log := `[1:1:1122/031734.415490:INFO:CONSOLE:1] "boom", source: file:///tmp/x.html (1)
[1:1:1122/031734.415490:ERROR:dbus/bus.cc:405] Failed to connect to the bus
[1:1:1122/031734.415490:INFO:CONSOLE(7)] "Uncaught ReferenceError: f is not defined", source: x (7)
`
	if got := consoleLine.FindAllString(log, -1); len(got) != 2 {
		t.Errorf("found %d console lines, want 2: %q", len(got), got)
	}
}

package probe

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The script's output, line by line. Script prints each line through the
// pod's shell (printf) or curl's write-out (-w), with the placeholder that
// fills in its value there ("$?", %{exitcode}, %{json}); Transcript prints
// the same lines with the values themselves. Both go through these
// functions, so a scripted executor hands Parse the byte stream the script
// prints, not a dialect of its own.

// limitLine says how much of request id's body the excerpt keeps.
func limitLine(id int, limit string) string {
	return fmt.Sprintf("%s %d limit %s\n", resultMarker, id, limit)
}

// transferLines are what curl writes as transfer id ends: its exit code and
// its %{json} write-out. They start with a line break so that they begin a
// line whatever was printed before them.
func transferLines(id int, exit, writeOut string) string {
	return fmt.Sprintf("\n%s %d exit %s\n%s %d wo %s\n", resultMarker, id, exit, resultMarker, id, writeOut)
}

// curlExitLine carries the exit status of the one curl of all transfers.
func curlExitLine(exit string) string {
	return fmt.Sprintf("\n%s all curl %s\n", resultMarker, exit)
}

// bodiesStart and bodiesEnd enclose the base64 lines of the bodies' heads
// (base64 ends its output with a line break; the empty line after it is
// the end marker's own).
var (
	bodiesStart = resultMarker + " all bodies\n"
	bodiesEnd   = "\n" + resultMarker + " all end\n"
)

// foundPrefix starts request id's line of found strings: their base64 on
// one line, then a line break.
func foundPrefix(id int) string {
	return fmt.Sprintf("%s %d found ", resultMarker, id)
}

// printfFormat renders line as a quoted format for printf (and for curl's
// -w, which reads \n alike): both expand \n, so the script stays one
// command a line. A line holds no % or \ but for the placeholders.
func printfFormat(line string) string {
	return shellQuote(strings.ReplaceAll(line, "\n", `\n`))
}

// base64Lines encodes b as base64(1) does by default (GNU coreutils and
// busybox alike): lines of 76 characters, each ended by a line break, and
// nothing at all for no input.
func base64Lines(b []byte) string {
	const width = 76
	enc := base64.StdEncoding.EncodeToString(b)
	var s strings.Builder
	for len(enc) > 0 {
		n := min(width, len(enc))
		s.WriteString(enc[:n] + "\n")
		enc = enc[n:]
	}
	return s.String()
}

// Reply is how one of the script's transfers ended, in curl's terms: what a
// scripted executor answers for a request instead of the network.
type Reply struct {
	// Exit is curl's exit code for the transfer (0: a response came).
	Exit            int
	HTTPCode        int
	ErrorMessage    string
	RedirectURL     string
	RemoteIP        string
	SSLVerifyResult int
	TimeTotal       float64
	TimeToFirstByte float64
	// Body is the whole body curl downloaded; the transcript keeps its head
	// as the script does, and searches all of it for the request's Find.
	Body string
}

// Transcript returns the bytes that script, as Script rendered it, prints
// when each of its transfers ends as reply says (reply is asked once per
// transfer, in request order, with the transfer's URL). The transfers end in
// request order, where the real curl reports them as they end; the
// write-out carries only the fields Parse reads, with an empty string for
// curl's null. Everything else is byte for byte the script's: the limits,
// the exit of the one curl, the heads of the bodies as one base64 stream,
// and the found lines.
func Transcript(script string, reply func(url string) (Reply, error)) ([]byte, error) {
	reqs, err := scriptRequests(script)
	if err != nil {
		return nil, err
	}
	replies := make([]Reply, len(reqs))
	for i, r := range reqs {
		if replies[i], err = reply(r.URL); err != nil {
			return nil, err
		}
	}
	var out strings.Builder
	most := 0
	for i, r := range reqs {
		out.WriteString(limitLine(i, strconv.Itoa(r.excerptBytes())))
		most = max(most, r.excerptBytes())
	}
	curlExit := 0
	var heads []byte
	for i, rep := range replies {
		wo, err := json.Marshal(writeOut{
			HTTPCode:        rep.HTTPCode,
			ErrorMessage:    rep.ErrorMessage,
			RemoteIP:        rep.RemoteIP,
			RedirectURL:     rep.RedirectURL,
			SSLVerifyResult: rep.SSLVerifyResult,
			TimeTotal:       rep.TimeTotal,
			TimeStart:       rep.TimeToFirstByte,
			SizeDownload:    int64(len(rep.Body)),
		})
		if err != nil {
			return nil, err
		}
		out.WriteString(transferLines(i, strconv.Itoa(rep.Exit), string(wo)))
		// With --parallel, curl exits with the error of the last failed
		// transfer to end (curl-8_11_1 src/tool_operate.c,
		// check_finished: "result receives this transfer's error"); here
		// they end in request order.
		if rep.Exit != 0 {
			curlExit = rep.Exit
		}
		heads = append(heads, rep.Body[:min(len(rep.Body), most)]...)
	}
	out.WriteString(curlExitLine(strconv.Itoa(curlExit)))
	out.WriteString(bodiesStart + base64Lines(heads) + bodiesEnd)
	for i, r := range reqs {
		find := findStrings(r.Find)
		if len(find) == 0 {
			continue
		}
		// grep -qF of each one-line string over the whole body.
		var found strings.Builder
		for _, f := range find {
			if strings.Contains(replies[i].Body, f) {
				found.WriteString(f + "\n")
			}
		}
		out.WriteString(foundPrefix(i) + base64.StdEncoding.EncodeToString([]byte(found.String())) + "\n")
	}
	return []byte(out.String()), nil
}

// The parts of a rendered script that say what each transfer asks:
// its excerpt limit, its URL (the last argument of its transfer in the one
// curl) and its Find strings.
var (
	quotedWord    = `'(?:[^']|'\\'')*'`
	scriptLimit   = regexp.MustCompile(`(?m)^printf '` + regexp.QuoteMeta(resultMarker) + ` (\d+) limit (\d+)\\n'$`)
	scriptURL     = regexp.MustCompile(`'--url' (` + quotedWord + `)(?: --next| 2>/dev/null\n)`)
	scriptFind    = regexp.MustCompile(`(?m)^printf '%s\\n' (.+) > "\$t/f(\d+)"$`)
	scriptFindArg = regexp.MustCompile(quotedWord)
)

// scriptRequests reads back from a script rendered by Script what Transcript
// needs of each request: URL, BodyBytes (the excerpt limit) and Find.
func scriptRequests(script string) ([]Request, error) {
	limits := scriptLimit.FindAllStringSubmatch(script, -1)
	urls := scriptURL.FindAllStringSubmatch(script, -1)
	if len(limits) != len(urls) {
		return nil, fmt.Errorf("not a probe script: %d limits for %d transfers", len(limits), len(urls))
	}
	reqs := make([]Request, len(limits))
	for i, m := range limits {
		if m[1] != strconv.Itoa(i) {
			return nil, fmt.Errorf("not a probe script: limit %d of request %s", i, m[1])
		}
		reqs[i].BodyBytes, _ = strconv.Atoi(m[2])
		reqs[i].URL = shellUnquote(urls[i][1])
	}
	for _, m := range scriptFind.FindAllStringSubmatch(script, -1) {
		id, _ := strconv.Atoi(m[2])
		if id >= len(reqs) {
			return nil, fmt.Errorf("not a probe script: find list of request %d of %d", id, len(reqs))
		}
		for _, w := range scriptFindArg.FindAllString(m[1], -1) {
			reqs[id].Find = append(reqs[id].Find, shellUnquote(w))
		}
	}
	return reqs, nil
}

// shellUnquote undoes shellQuote.
func shellUnquote(word string) string {
	return strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(word, "'"), "'"), `'\''`, "'")
}

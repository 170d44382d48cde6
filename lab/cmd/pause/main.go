// Command pause is the pod sandbox process: it does nothing until told to
// stop, and reaps nothing (the lab's pods share no PID namespace).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	<-ch
}

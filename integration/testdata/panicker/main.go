package main

import "time"

func worker(c chan int) { <-c }

func main() {
	c := make(chan int)
	for i := 0; i < 3; i++ {
		go worker(c) // line 10
	}
	time.Sleep(100 * time.Millisecond)
	panic("the workers are stuck")
}

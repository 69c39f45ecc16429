package main

// The README shows this program; its output is checked here.
func Example() {
	main()
	// Output:
	// Acme 1
}

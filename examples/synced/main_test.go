package main

// The README shows this program; its output is checked here.
func Example() {
	main()
	// Output:
	// 2 create, 1 update, 1 create-user, 1 add-member
	// true
}

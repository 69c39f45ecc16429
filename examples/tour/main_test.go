package main

// The README shows this program; its output is checked here.
func Example() {
	main()
	// Output:
	// [Acme R&D Web]
	// 1 Ann
	// [Acme R&D Web]
	// true
	// {Orgs:1 Nodes:4 Users:1 Memberships:2}
}

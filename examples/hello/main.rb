puts "Hello from Ruby"

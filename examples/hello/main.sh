echo "Hello from Bash"

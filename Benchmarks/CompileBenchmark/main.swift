print("compile benchmark: under construction")

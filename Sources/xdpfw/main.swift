import ArgumentParser
print("xdpfw: under construction")

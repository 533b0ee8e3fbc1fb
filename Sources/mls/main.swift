print("mls")

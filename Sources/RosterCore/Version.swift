/// roster's version: `roster version`, `roster --version`, and the `user-agent` of its requests.
public let rosterVersion = "0.1.0"

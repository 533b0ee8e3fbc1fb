import MLS

public enum MLSPlaceholder {}

/// Stands in for the optimizer until it lands: returns the program unchanged.
/// (Remove when Sources/FilterCompiler/Optimizer/ provides `Optimizer`.)
public enum Optimizer {
    public static func optimize(_ p: FilterProgram) -> FilterProgram { p }
}

"""Instance types. Each has a validator (pcdp.types.validation, registered when pcdp.instances
reads an instances file: light, no modelling library) and a runner (the module named after the
type, registered when pcdp.runtime runs instances: scikit-learn, SciPy and pandas load then)."""

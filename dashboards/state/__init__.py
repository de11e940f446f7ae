"""Dashboard state: param.Parameterized classes that do not import Panel."""

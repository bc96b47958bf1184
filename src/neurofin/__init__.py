"""neurofin: LLM encoding models of fMRI, predicted brain-region activity for text, and honest forecasts."""

__version__ = "0.2.0"

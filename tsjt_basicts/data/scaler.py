"""Mask-aware z-score scaler, fitted on one range of one city."""
from __future__ import annotations

from dataclasses import dataclass


from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.split import StepRange


@dataclass(frozen=True)
class ZScore:
    """``(x - mean) / std`` with statistics of the observed values of one range."""

    mean: float
    std: float

    @classmethod
    def fit(cls, city: City, steps: StepRange) -> "ZScore":
        values = city.series[steps.start : steps.stop, :, 0]
        observed = values[city.valid_mask()[steps.start : steps.stop]]
        if observed.size == 0:
            raise DataError(f"city {city.name!r}: no observed value in steps {steps} to fit the scaler on")
        std = float(observed.std())
        return cls(mean=float(observed.mean()), std=std if std > 1e-8 else 1.0)

    def transform(self, x):
        return (x - self.mean) / self.std

    def inverse_transform(self, x):
        return x * self.std + self.mean
